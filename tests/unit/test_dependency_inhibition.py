"""A health-JSON dependency's incident inhibits its parent check's own, and no other.

GIVEN ``api`` reports its dependencies in its health JSON (``dependencies:``), WHEN ``api / cache``
and ``api`` itself go down, THEN only the dependency pages; the parent is recorded "inhibited by"
and pages once if it is still down when the dependency recovers. Dependencies never wait for,
nor inhibit, each other.
"""

from __future__ import annotations

from noise_world import World, minute
from uptime_relay.config.loader import parse_config
from uptime_relay.domain.alert import Alert, AlertSource, AlertState
from uptime_relay.domain.inhibition import derived_inhibit_rules
from uptime_relay.intake import enrich

CONFIG = parse_config(
    """
checks:
  - name: api
    url: http://127.0.0.1:9/health
    dependencies: {path: services}
    labels: {severity: critical}
channels:
  slack: {type: slack, webhook_url: https://hooks.example.invalid/x}
routes:
  - notify: [slack]
"""
)


def dependency_alert(world: World, name: str, state: str, at) -> Alert:
    alert = Alert(
        AlertSource.CLOUDWATCH,
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:uptime-check-api.dependencies/{name}",
        f"api / {name}",
        AlertState(state),
        f"{name}: down",
        at,
        {"check": "api", "dependency": name, "dependency_of": "api"},
    )
    return enrich(alert, world.config)


def dependency_pages(world: World, name: str) -> list:
    return sorted(at for at, _, n in world.log if n.alert.labels.get("dependency") == name)


def parent_pages(world: World) -> list:
    return sorted(
        at
        for at, _, n in world.log
        if n.alert.labels.get("check") == "api" and "dependency" not in n.alert.labels
    )


def test_a_check_with_dependencies_derives_one_rule():
    (rule,) = derived_inhibit_rules(CONFIG)
    assert rule.source == {"dependency_of": "api"}
    assert rule.target == {"check": "api", "dependency": ""}
    assert rule.origin == "check api reports its dependencies"


def test_a_dependency_down_inhibits_its_parent_whatever_the_order():
    for parent_first in (True, False):
        world = World(CONFIG)
        parent = world.alert("api", "ALARM", minute(1))
        cache = dependency_alert(world, "cache", "ALARM", minute(1))
        world.arrive([parent, cache] if parent_first else [cache, parent], minute(1.1))
        world.sweeps(1, 10)
        assert dependency_pages(world, "cache") == [minute(1.1)]  # at once: nothing can inhibit it
        assert parent_pages(world) == []
        (api,) = [i for i in world.incidents("api") if "dependency" not in i.labels]
        assert any(e.kind == "inhibited" and "inhibited by" in e.detail for e in api.timeline)


def test_the_parent_pages_once_when_its_dependency_recovers_and_it_is_still_down():
    world = World(CONFIG)
    world.arrive(
        [dependency_alert(world, "cache", "ALARM", minute(1)), world.alert("api", "ALARM", minute(1))],
        minute(1.1),
    )
    world.sweeps(1, 5)
    world.arrive([dependency_alert(world, "cache", "OK", minute(6))], minute(6))
    world.sweeps(6, 20)
    assert parent_pages(world) == [minute(6.5)]


def test_two_dependencies_of_one_check_both_page():
    world = World(CONFIG)
    world.arrive(
        [
            dependency_alert(world, "cache", "ALARM", minute(1)),
            dependency_alert(world, "queue", "ALARM", minute(1)),
        ],
        minute(1.1),
    )
    assert dependency_pages(world, "cache") == [minute(1.1)]
    assert dependency_pages(world, "queue") == [minute(1.1)]
