"""The route table's matching rules, on routes built directly (no app, no I/O)."""

from __future__ import annotations

import pytest

from pymodular.modules.router import Router, RouterModule
from pymodular.modules.router._routes import Route, RouteTable
from pymodular.testing import app_harness
from tests.modules.router.helpers import ok


def route(path: str, *methods: str, name: str | None = None, enabled: bool = True) -> Route:
    made = Route(path, frozenset(methods) if methods else None, name, object())
    made.enabled = enabled
    return made


def table(*routes: Route) -> RouteTable:
    made = RouteTable()
    for each in routes:
        made.add(each)
    return made


def test_a_disabled_routes_methods_are_left_out_of_the_allow_list() -> None:
    found = table(
        route("/x", "GET"), route("/x", "POST", enabled=False), route("/y/{id}", "PUT")
    ).match("/x", "DELETE")
    assert found == (None, None, frozenset({"GET"}), False)
    dynamic = table(route("/y/{id}", "PUT"), route("/y/{id}", "PATCH", enabled=False))
    assert dynamic.match("/y/1", "GET")[2] == frozenset({"PUT"})


def test_a_method_only_a_disabled_route_has_answers_as_not_found() -> None:
    assert table(route("/x", "GET"), route("/x", "POST", enabled=False)).match("/x", "POST") == (
        None,
        None,
        frozenset({"GET"}),
        True,
    )


def test_a_path_with_other_methods_answers_405_even_under_a_mount() -> None:
    mount = route("/static")
    found = table(mount, route("/static/app.js", "GET")).match("/static/app.js", "POST")
    assert found[0] is None
    assert found[2] == frozenset({"GET"})
    assert table(mount, route("/static/app.js", "GET")).match("/static/other", "POST")[0] is mount


def test_the_longest_mount_prefix_wins_whatever_the_registration_order() -> None:
    short, long = route("/a"), route("/a/b")
    for order in ((short, long), (long, short)):
        routes = table(*order)
        assert routes.match("/a/b/c", "GET")[0] is long
        assert routes.match("/a/b", "GET")[0] is long
        assert routes.match("/a/c", "GET")[0] is short


@pytest.mark.parametrize("path", ["/staticfoo", "/static-files/x", "/stati"])
def test_a_mount_serves_its_prefix_as_a_whole_segment_only(path: str) -> None:
    assert table(route("/static")).match(path, "GET")[0] is None


@pytest.mark.parametrize("mount_path", ["/files", "/files/"])
@pytest.mark.parametrize("path", ["/files", "/files/", "/files/a/b.txt"])
def test_a_mount_path_with_or_without_a_trailing_slash_serves_the_same(
    mount_path: str, path: str
) -> None:
    mount = route(mount_path)
    assert table(mount).match(path, "GET")[0] is mount
    assert table(mount).match("/filesystem", "GET")[0] is None


def test_a_root_mount_serves_whatever_nothing_else_does() -> None:
    root, api = route("/"), route("/api")
    routes = table(root, api, route("/health", "GET"))
    assert routes.match("/anything/at/all", "GET")[0] is root
    assert routes.match("/", "GET")[0] is root
    assert routes.match("/api/v1", "GET")[0] is api
    assert routes.match("/health", "GET")[0] is not root


def test_a_disabled_mount_is_as_if_it_did_not_exist_and_a_shorter_one_serves() -> None:
    short, long = route("/a"), route("/a/b", enabled=False)
    assert table(short, long).match("/a/b/c", "GET") == (short, None, frozenset(), False)
    alone = table(route("/a/b", enabled=False))
    assert alone.match("/a/b/c", "GET") == (None, None, frozenset(), True)


def test_a_route_is_named_by_its_name_path_method_and_path_in_any_case_or_any_group() -> None:
    router = Router()
    outer = router.group("/v1", name="v1")
    inner = outer.group("/admin", name="admin")
    inner.add_route("/stats", ok, methods=["GET", "POST"], name="stats")
    (made,) = [r for r in router.routes if r.name == "stats"]
    for target in ("stats", "/v1/admin/stats", "get /v1/admin/stats", "POST /v1/admin/stats"):
        assert made.matches(target), target
    assert made.matches("admin")
    assert made.matches("v1")  # the parent group names it too
    for target in ("DELETE /v1/admin/stats", "/v1/admin", "GET /stats", "v2"):
        assert not made.matches(target), target


def test_describe_and_labels_show_the_route_as_it_is_now() -> None:
    made = route("/items/{id}", "GET", "HEAD", "PUT", name="item")
    assert made.label() == "GET|PUT /items/{id}"
    assert route("/ping", "HEAD").label() == "HEAD /ping"
    assert route("/static").label() == "MOUNT /static"
    assert made.describe() == {
        "path": "/items/{id}",
        "methods": ["GET", "HEAD", "PUT"],
        "name": "item",
        "group": None,
        "enabled": True,
    }
    made.disabled_manually = True
    made.refresh_enabled()
    assert made.describe()["enabled"] is False


async def test_route_events_carry_the_routes_labels() -> None:
    module = RouterModule()
    async with app_harness([module], config={}) as (app, events):
        module.router.add_route("/items/{id}", ok, methods=["get", "put"], name="item")
        module.router.disable("put /items/{id}")
        await app.events.flush()
    (added,) = [e for e in events.of("router.route.added") if e.data.get("name") == "item"]
    assert added.data["route"] == "GET|PUT /items/{id}"
    (off,) = events.of("router.route.disabled")
    assert off.data == {
        "target": "put /items/{id}",
        "routes": ["GET|PUT /items/{id}"],
        "source": "api",
    }


def host_mount(host: str, path: str = "/", *, enabled: bool = True) -> Route:
    made = Route(path, None, None, object(), host=host)
    made.enabled = enabled
    return made


def test_host_mounts_match_exact_hosts_before_wildcards_whatever_the_order() -> None:
    wildcard, exact = host_mount("*.example.com"), host_mount("api.example.com")
    routes = table(wildcard, exact)
    assert routes.match_host("api.example.com", "/x") is exact
    assert routes.match_host("www.example.com", "/x") is wildcard
    assert routes.match_host("deep.www.example.com", "/") is wildcard
    assert routes.match_host("example.com", "/") is None  # the wildcard needs a label
    assert routes.match_host("badexample.com", "/") is None
    assert routes.match_host("other.org", "/") is None
    assert len(routes) == 2
    assert list(routes) == [wildcard, exact]


def test_a_wildcard_host_takes_a_one_letter_label_but_not_an_empty_one() -> None:
    wildcard = host_mount("*.example.com")
    routes = table(wildcard)
    assert routes.match_host("a.example.com", "/") is wildcard
    assert routes.match_host(".example.com", "/") is None


def test_a_route_found_is_answered_with_no_allow_list_and_no_disabled_flag() -> None:
    static, dynamic = route("/x", "GET"), route("/y/{id:int}", "GET")
    routes = table(static, dynamic)
    assert routes.match("/x", "GET") == (static, None, frozenset(), False)
    assert routes.match("/y/7", "GET") == (dynamic, {"id": 7}, frozenset(), False)


def test_a_route_disabled_and_enabled_again_by_hand_is_enabled() -> None:
    made = route("/x", "GET")
    made.disabled_manually = True
    made.refresh_enabled()
    assert not made.enabled
    made.disabled_manually = False
    made.refresh_enabled()
    assert made.enabled


def test_a_route_without_methods_is_a_mount() -> None:
    assert route("/static").is_mount
    assert not route("/x", "GET").is_mount


def test_a_host_mount_serves_its_path_prefix_only_and_not_while_disabled() -> None:
    docs = host_mount("docs.example.com", "/v1")
    routes = table(docs)
    assert routes.match_host("docs.example.com", "/v1") is docs
    assert routes.match_host("docs.example.com", "/v1/page") is docs
    assert routes.match_host("docs.example.com", "/v10") is None
    assert routes.match_host("docs.example.com", "/") is None
    assert (
        table(host_mount("docs.example.com", enabled=False)).match_host("docs.example.com", "/")
        is None
    )
