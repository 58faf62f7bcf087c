"""The provider's registration: metadata valid against Airflow's schema, and seen by the airflow CLI."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import airflow
import jsonschema

from airflow_provider_openai_fusion.get_provider_info import get_provider_info


def test_provider_info_validates_against_airflows_schema() -> None:
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_every_listed_module_and_class_imports() -> None:
    info = get_provider_info()
    modules = [
        m
        for key in ("hooks", "operators", "sensors", "triggers")
        for entry in info.get(key, [])
        for m in entry["python-modules"]
    ]
    for module in modules:
        importlib.import_module(module)
    for dotted in [c["hook-class-name"] for c in info["connection-types"]] + info.get("extra-links", []):
        module, _, name = dotted.rpartition(".")
        assert hasattr(importlib.import_module(module), name), dotted


def test_connection_form_declares_fields_and_hides_the_rest() -> None:
    (conn_type,) = get_provider_info()["connection-types"]
    assert conn_type["connection-type"] == "openai_fusion"
    assert set(conn_type["conn-fields"]) == {
        "organization_id",
        "project_id",
        "timeout",
        "max_retries",
        "allow_insecure_http",
        "prices",
        "admin_api_key",
        "webhook_secret",
    }
    assert conn_type["conn-fields"]["admin_api_key"]["schema"]["format"] == "password"
    assert conn_type["conn-fields"]["webhook_secret"]["schema"]["format"] == "password"
    assert all(field["description"] for field in conn_type["conn-fields"].values())
    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"schema", "port", "login"}
    assert behaviour["relabeling"] == {"password": "API Key", "host": "Base URL"}


def test_airflow_cli_lists_the_provider_and_its_hook() -> None:
    airflow_cli = str(Path(sys.executable).with_name("airflow"))
    providers = subprocess.run([airflow_cli, "providers", "list", "-o", "json"], capture_output=True, text=True)
    assert providers.returncode == 0, providers.stderr[-2000:]
    assert "airflow-provider-openai-fusion" in {p["package_name"] for p in json.loads(providers.stdout)}
    hooks = subprocess.run([airflow_cli, "providers", "hooks", "-o", "json"], capture_output=True, text=True)
    assert hooks.returncode == 0, hooks.stderr[-2000:]
    (ours,) = [h for h in json.loads(hooks.stdout) if h["connection_type"] == "openai_fusion"]
    assert ours["class"] == "airflow_provider_openai_fusion.hooks.openai_fusion.OpenAIFusionHook"
    assert ours["hook_name"] == "OpenAI Fusion"


def test_the_description_names_every_area_of_the_table() -> None:
    from airflow_provider_openai_fusion.areas import AREAS

    description = get_provider_info()["description"]
    missing = [area.title for area in AREAS if area.title not in description]
    assert not missing and "fine-tuning" in description and "vector stores" in description, description


def test_the_webhook_plugin_and_asset_scheme_are_registered() -> None:
    import importlib.metadata

    info = get_provider_info()
    (plugin,) = info["plugins"]
    (uris,) = info["asset-uris"]
    assert uris["schemes"] == ["openai-fusion"]
    module, _, name = uris["handler"].rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))
    (entry_point,) = [e for e in importlib.metadata.entry_points(group="airflow.plugins") if "openai_fusion" in e.value]
    assert entry_point.value.replace(":", ".") == plugin["plugin-class"]
    cls = entry_point.load()
    assert [app["url_prefix"] for app in cls().fastapi_apps] == ["/openai-fusion"]
    assert cls.fastapi_apps is cls().fastapi_apps  # read from the class (provider-info loading) or an instance
