"""The baseline: a hand-written FastAPI + PyJWT app with the same checks as auth-jwt's guard.

HS256 pinned, issuer, audience, leeway and required claims, the token type, a kid lookup;
a 401 for anything wrong. It reads the secret, issuer and audience the composed app uses,
so one token works against both.
"""

from typing import Annotated, Any

import jwt
from fastapi import Depends, FastAPI, HTTPException
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

SECRET = "bench-only-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
KEYS = {"default": SECRET}
REQUIRED = ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "typ"]

app = FastAPI()
bearer = HTTPBearer()


async def current_claims(
    credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)],
) -> dict[str, Any]:
    token = credentials.credentials
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = KEYS.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise HTTPException(401, "unknown key")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience="rainmaker-api",
            issuer="rainmaker",
            leeway=30,
            options={"require": REQUIRED},
        )
    except jwt.PyJWTError as error:
        raise HTTPException(401, str(error)) from None
    if claims.get("typ") != "access":
        raise HTTPException(401, "not an access token")
    return claims


@app.get("/protected")
async def protected(claims: Annotated[dict[str, Any], Depends(current_claims)]) -> dict[str, str]:
    return {"user_id": claims["sub"]}
