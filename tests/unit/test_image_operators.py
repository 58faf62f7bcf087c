"""The image operators: requests (JSON and multipart), input limits checked first, images checked before writing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_openai_fusion.exceptions import APIResponseValidationError, InvalidArgumentError
from airflow_provider_openai_fusion.operators import OpenAIEditImageOperator, OpenAIGenerateImageOperator
from tests.unit.helpers import Script, ok, raises
from tests.unit.media import JPEG_BYTES, PNG_BYTES, WEBP_BYTES, b64, fields, parts, sparse, write_png

USAGE = {"input_tokens": 5, "output_tokens": 272, "total_tokens": 277, "input_tokens_details": {}}


def answer(*images: bytes, **extra: Any) -> dict[str, Any]:
    return {"created": 1767225600, "data": [{"b64_json": b64(image)} for image in images], **extra}


def run(make_hook: Any, operator: Any, reply: dict[str, Any] | None = None) -> tuple[Any, Script]:
    script = Script(ok(reply or answer(PNG_BYTES)))
    operator.hook = make_hook(script)
    return operator.execute({}), script


def test_generate_writes_each_image_with_the_extension_of_its_bytes(make_hook: Any, tmp_path: Path) -> None:
    out = tmp_path / "images"
    operator = OpenAIGenerateImageOperator(
        task_id="t", prompt="a cat", n=3, size="1024x1024", output_path=str(out), advanced={"quality": "low"}
    )
    reply = answer(PNG_BYTES, JPEG_BYTES, WEBP_BYTES, usage=USAGE)
    reply["data"][0]["revised_prompt"] = "a small cat"
    result, script = run(make_hook, operator, reply)

    body = json.loads(script.requests[0].content)
    assert script.requests[0].url.path == "/v1/images/generations"
    assert body == {"prompt": "a cat", "model": "gpt-image-2", "n": 3, "size": "1024x1024", "quality": "low"}
    assert result == {
        "paths": [str(out / "0.png"), str(out / "1.jpeg"), str(out / "2.webp")],
        "created": 1767225600,
        "usage": USAGE,
        "revised_prompts": ["a small cat", None, None],
    }
    assert [Path(p).read_bytes() for p in result["paths"]] == [PNG_BYTES, JPEG_BYTES, WEBP_BYTES]
    assert sorted(p.name for p in out.iterdir()) == ["0.png", "1.jpeg", "2.webp"]


def test_rerun_overwrites(make_hook: Any, tmp_path: Path) -> None:
    (tmp_path / "0.png").write_bytes(b"old")
    operator = OpenAIGenerateImageOperator(task_id="t", prompt="a cat", output_path=str(tmp_path))
    result, _ = run(make_hook, operator)
    assert Path(result["paths"][0]).read_bytes() == PNG_BYTES


def test_non_gpt_image_models_are_asked_for_base64(make_hook: Any, tmp_path: Path) -> None:
    operator = OpenAIGenerateImageOperator(task_id="t", prompt="a cat", model="dall-e-2", output_path=str(tmp_path))
    _, script = run(make_hook, operator)
    assert json.loads(script.requests[0].content)["response_format"] == "b64_json"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"b64_json": "not base64 !!"}, "not valid base64"),
        ({"b64_json": b64(b"GIF89a" + bytes(20))}, "not a PNG, JPEG or WEBP"),
        ({"url": "https://elsewhere.example/0.png"}, "URLs are not fetched"),
    ],
)
def test_bad_image_data_is_an_error_and_writes_nothing(
    make_hook: Any, tmp_path: Path, data: dict[str, str], message: str
) -> None:
    out = tmp_path / "out"
    operator = OpenAIGenerateImageOperator(task_id="t", prompt="a cat", output_path=str(out), n=2)
    good = {"b64_json": b64(PNG_BYTES)}
    with raises(APIResponseValidationError, match=message):
        run(make_hook, operator, {"created": 1, "data": [good, data]})
    assert not out.exists()


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"advanced": {"response_format": "url"}}, "advanced.response_format"),
        ({"advanced": {"prompt": "again"}}, "advanced"),
        ({"n": 11}, "n"),
        ({"prompt": ""}, "prompt"),
        ({"output_path": ""}, "output_path"),
        ({"advanced": {"stream": True}}, "advanced.stream"),
    ],
)
def test_generate_rejects_bad_input_before_any_request(
    make_hook: Any, tmp_path: Path, kwargs: dict[str, Any], argument: str
) -> None:
    arguments = {"prompt": "a cat", "output_path": str(tmp_path), **kwargs}
    operator = OpenAIGenerateImageOperator(task_id="t", **arguments)
    script = Script(ok(answer(PNG_BYTES)))
    operator.hook = make_hook(script)
    with raises(InvalidArgumentError) as info:
        operator.execute({})
    assert info.value.argument == argument and script.attempts == 0


def test_edit_uploads_every_image_and_the_mask_as_multipart(make_hook: Any, tmp_path: Path) -> None:
    first, second = write_png(tmp_path / "a.png"), tmp_path / "b.jpg"
    second.write_bytes(JPEG_BYTES)
    mask = write_png(tmp_path / "mask.png")
    operator = OpenAIEditImageOperator(
        task_id="t",
        image=[str(first), str(second)],
        mask=str(mask),
        prompt="add a hat",
        output_path=str(tmp_path / "out"),
        advanced={"n": 2, "output_format": "jpeg"},
    )
    result, script = run(make_hook, operator, answer(JPEG_BYTES, JPEG_BYTES))
    request = script.requests[0]
    files = [(p.name, p.filename, p.content_type, p.data) for p in parts(request) if p.filename]
    assert request.url.path == "/v1/images/edits"
    assert files == [
        ("image[]", "a.png", "image/png", first.read_bytes()),
        ("image[]", "b.jpg", "image/jpeg", JPEG_BYTES),
        ("mask", "mask.png", "image/png", mask.read_bytes()),
    ]
    assert fields(request) == {"prompt": ["add a hat"], "model": ["gpt-image-2"], "n": ["2"], "output_format": ["jpeg"]}
    assert [Path(p).name for p in result["paths"]] == ["0.jpeg", "1.jpeg"]


def test_one_image_goes_in_the_image_field(make_hook: Any, tmp_path: Path) -> None:
    image = write_png(tmp_path / "a.png")
    operator = OpenAIEditImageOperator(task_id="t", image=str(image), prompt="hat", output_path=str(tmp_path / "o"))
    _, script = run(make_hook, operator)
    assert [p.name for p in parts(script.requests[0]) if p.filename] == ["image"]


def test_variation_sends_one_square_png_to_dall_e_2(make_hook: Any, tmp_path: Path) -> None:
    image = write_png(tmp_path / "a.png", 32, 32)
    operator = OpenAIEditImageOperator(
        task_id="t", operation="variation", image=str(image), output_path=str(tmp_path / "out")
    )
    result, script = run(make_hook, operator)
    assert script.requests[0].url.path == "/v1/images/variations"
    assert fields(script.requests[0]) == {"model": ["dall-e-2"], "response_format": ["b64_json"]}
    assert Path(result["paths"][0]).read_bytes() == PNG_BYTES


def test_output_to_an_object_storage_uri(make_hook: Any, tmp_path: Path) -> None:
    uri = (tmp_path / "remote" / "images").as_uri()
    operator = OpenAIGenerateImageOperator(task_id="t", prompt="a cat", output_path=uri, n=2)
    result, _ = run(make_hook, operator, answer(PNG_BYTES, WEBP_BYTES))
    assert result["paths"] == [f"{uri}/0.png", f"{uri}/1.webp"]
    assert (tmp_path / "remote" / "images" / "1.webp").read_bytes() == WEBP_BYTES


def test_image_input_from_an_object_storage_uri(make_hook: Any, tmp_path: Path) -> None:
    image = write_png(tmp_path / "a.png")
    operator = OpenAIEditImageOperator(task_id="t", image=image.as_uri(), prompt="hat", output_path=str(tmp_path / "o"))
    _, script = run(make_hook, operator)
    assert [(p.filename, p.data) for p in parts(script.requests[0]) if p.filename] == [("a.png", image.read_bytes())]


def _bad_edit_cases(tmp: Path) -> list[tuple[dict[str, Any], str, str]]:
    png, text = write_png(tmp / "a.png"), tmp / "a.txt"
    text.write_text("not an image")
    wide = write_png(tmp / "wide.png", 32, 16)
    jpg = tmp / "a.jpg"
    jpg.write_bytes(JPEG_BYTES)
    huge = sparse(tmp / "huge.png", 51 * 1024 * 1024)
    return [
        ({"operation": "draw"}, "operation", "must be one of"),
        ({"prompt": None}, "prompt", "required"),
        ({"image": []}, "image", "required"),
        ({"image": [str(png)] * 17}, "image", "at most 16"),
        ({"image": str(tmp / "missing.png")}, "image", "no such file"),
        ({"image": str(text)}, "image", "not a PNG, JPEG or WEBP"),
        ({"image": str(huge)}, "image", "at most 50 MB"),
        ({"mask": str(jpg)}, "mask", "JPEG"),
        ({"model": "dall-e-2", "image": str(jpg)}, "image", "accepted here: png"),
        ({"model": "dall-e-2", "image": str(wide)}, "image", "square"),
        ({"model": "dall-e-2", "image": [str(png), str(png)]}, "image", "at most 1"),
        ({"operation": "variation", "prompt": None, "image": str(wide)}, "image", "square"),
        ({"operation": "variation", "prompt": None, "image": [str(png)] * 2}, "image", "exactly one"),
        ({"operation": "variation"}, "prompt", "not used"),
        ({"operation": "variation", "prompt": None, "advanced": {"size": "9x9"}}, "advanced.size", "Input should"),
        ({"advanced": {"mask": "x"}}, "advanced.mask", "not a field"),
    ]


def test_edit_rejects_bad_input_before_any_request(make_hook: Any, tmp_path: Path) -> None:
    png = write_png(tmp_path / "a.png")
    for kwargs, argument, message in _bad_edit_cases(tmp_path):
        arguments = {"image": str(png), "prompt": "hat", "output_path": str(tmp_path / "out"), **kwargs}
        operator = OpenAIEditImageOperator(task_id="t", **arguments)
        script = Script(ok(answer(PNG_BYTES)))
        operator.hook = make_hook(script)
        with raises(InvalidArgumentError, match=message) as info:
            operator.execute({})
        assert (info.value.argument, script.attempts) == (argument, 0), kwargs
