"""Parameters whose class makes the value from the request (``__from_request__``)."""

from __future__ import annotations

from typing import Any

from pymodular.modules.router import Router
from tests.modules.router.helpers import client


class Locale:
    """The request's language, from Accept-Language; required unless optional."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    @classmethod
    def __from_request__(cls, scope: Any, *, optional: bool = False) -> Locale | None:
        for key, value in scope["headers"]:
            if key == b"accept-language":
                return cls(value.decode("latin-1").split(",")[0])
        if optional:
            return None
        from starlette.exceptions import HTTPException

        raise HTTPException(406, "say which language")


async def test_a_class_makes_its_parameter_from_the_request() -> None:
    router = Router()

    @router.get("/hello")
    async def hello(locale: Locale) -> dict[str, str]:
        return {"lang": locale.tag}

    @router.get("/maybe")
    async def maybe(locale: Locale | None) -> dict[str, Any]:
        return {"lang": locale.tag if locale else None}

    @router.get("/defaulted")
    async def defaulted(q: str = "x", locale: Locale | None = None) -> dict[str, Any]:
        return {"q": q, "lang": locale.tag if locale else None}

    async with client(router) as http:
        assert (await http.get("/hello", headers={"Accept-Language": "fr,en"})).json() == {
            "lang": "fr"
        }
        assert (await http.get("/hello")).status_code == 406
        assert (await http.get("/maybe")).json() == {"lang": None}
        assert (await http.get("/defaulted")).json() == {"q": "x", "lang": None}
    operation = router.openapi.document()["paths"]["/hello"]["get"]
    assert "parameters" not in operation  # not a query parameter, not a body
