"""scripts/samconfig.py: the deploy-time parameter overrides merge with, not replace, samconfig's."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.samconfig import (
    SAMCONFIG_PATH,
    SamConfigError,
    format_override,
    main,
    merged_overrides,
    parse_overrides,
    region,
    stack_name,
)

SAMPLE = """
version = 0.1
[default.global.parameters]
stack_name = "app-dev"
region = "eu-west-1"
[default.deploy.parameters]
parameter_overrides = "Stage=dev Note=\\"two words\\" Empty=''"
[prod.global.parameters]
region = "us-east-2"
[prod.deploy.parameters]
parameter_overrides = ["Stage=prod", "LogRetentionInDays=90"]
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "samconfig.toml"
    path.write_text(SAMPLE, encoding="utf-8")
    return path


def test_merged_overrides_keep_the_environments_values_and_add_the_deploy_time_ones(config: Path) -> None:
    # Given an environment with its own overrides
    # When the model URI and an empty endpoint name are merged in
    merged = merged_overrides("default", {"ModelDataUrl": "s3://b/k/model.tar.gz", "Stage": "test"}, config)

    # Then every configured value survives (quoted where sam needs quotes) and the given ones win
    assert merged == [
        "Stage=test",
        'Note="two words"',
        'Empty=""',
        "ModelDataUrl=s3://b/k/model.tar.gz",
    ]


def test_overrides_written_as_a_list_are_read_too(config: Path) -> None:
    assert parse_overrides(["Stage=prod", "LogRetentionInDays=90"]) == {
        "Stage": "prod",
        "LogRetentionInDays": "90",
    }
    assert merged_overrides("prod", {}, config) == ["Stage=prod", "LogRetentionInDays=90"]


@pytest.mark.parametrize("value", ["", "plain", "two words", 'say "hi"', "back\\slash"])
def test_format_override_round_trips_through_the_parser(value: str) -> None:
    assert parse_overrides(format_override("Key", value)) == {"Key": value}


def test_region_comes_from_the_environment(config: Path) -> None:
    assert region("default", config) == "eu-west-1"
    assert region("prod", config) == "us-east-2"


def test_an_unknown_environment_is_an_error_naming_the_known_ones(config: Path) -> None:
    with pytest.raises(SamConfigError, match="default, prod"):
        region("staging", config)


def test_the_projects_samconfig_has_dev_and_prod_stages(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the shipped samconfig.toml
    # When make deploy asks for each environment's overrides
    assert (
        main(["--config-env", "default", "overrides", "ModelDataUrl=s3://b/k", "ExistingEndpointName="]) == 0
    )
    dev = capsys.readouterr().out.splitlines()
    assert main(["--config-env", "prod", "overrides"]) == 0
    prod = capsys.readouterr().out.splitlines()

    # Then the stage is set per environment and the deploy-time values are appended
    assert "Stage=dev" in dev
    assert dev[-2:] == ["ModelDataUrl=s3://b/k", 'ExistingEndpointName=""']
    assert "Stage=prod" in prod
    assert SAMCONFIG_PATH.is_file()


def test_the_stack_name_is_the_environments_and_a_missing_one_is_named(config: Path) -> None:
    # Given an environment with a stack name and one without
    # When make logs / outputs / env-json ask for them
    # Then the first answers its name and the second says what is missing, where
    assert stack_name("default", config) == "app-dev"
    with pytest.raises(SamConfigError, match="no stack_name for environment 'prod'"):
        stack_name("prod", config)
