"""``registry_config_active`` has a sample from the moment a replica starts."""

from __future__ import annotations

from apps import ClientFactory
from prometheus_client.parser import text_string_to_metric_families

from service.bundle import Bundle


async def test_config_active_gauge_is_one_for_the_baked_bundle_at_start(
    app_client: ClientFactory, bundles: tuple[Bundle, Bundle]
) -> None:
    a, _ = bundles
    async with app_client(bundle_dir=a.path, deploy_revision=1) as client:
        text = (await client.get("/metrics")).text
    samples = {
        s.labels["version"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "registry_config_active"
        for s in family.samples
    }
    assert samples.get(a.version) == 1.0
