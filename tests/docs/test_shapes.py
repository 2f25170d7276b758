"""How the docs' examples are read and compared (tests/docs/test_examples.py runs them).

No server here: that every curl example is marked, so none escapes the run, and that the
comparison catches what drift looks like (a key gone, a key added, a type or a stable value
changed) while it lets through what differs on every run (ids, times).
"""

from __future__ import annotations

import pytest

from tests.docs.examples import (
    RUNNABLE_DOCS,
    differences,
    examples,
    expected_status,
    parse_fragment,
    parse_shape,
    split_steps,
    unmarked_curl_blocks,
)


@pytest.mark.parametrize("doc", RUNNABLE_DOCS)
def test_every_curl_example_of_the_docs_is_run(doc: str) -> None:
    assert unmarked_curl_blocks(doc) == [], (
        f"{doc}: shell blocks with curl at these lines have no <!-- doc-test: NAME --> marker"
    )


@pytest.mark.parametrize("doc", RUNNABLE_DOCS[1:])
def test_every_marked_example_has_commands_and_parses(doc: str) -> None:
    found = examples(doc)
    assert found
    names = [example.name for example in found]
    assert len(names) == len(set(names)), f"{doc}: two examples share a name"
    for example in found:
        assert example.steps, f"{doc}: {example.name} has no command"
        assert all(step.command.strip() for step in example.steps)
        assert set(example.bindings.values()) <= set(names)


def test_the_payment_guide_documents_what_each_step_answers() -> None:
    found = {example.name: example for example in examples("docs/payments.md")}
    create = found["create-payment"].steps
    assert len(create) == 1 and create[0].shapes[0]["object"] == "payment"
    assert found["refunds"].bindings == {"pay_": "create-payment"}
    authorize, capture = found["authorize-capture"].steps
    assert authorize.shapes == [
        {
            "status": "requires_capture",
            "amount_capturable": {"value": "50.00", "...": "..."},
            "...": "...",
        }
    ]
    assert capture.shapes[0]["status"] == "succeeded"
    assert expected_status(found["decline"].steps[0].shapes) == 402


PAYMENT = {
    "id": "pay_01JD2X8Q0Y3V7K2M4N6P8R0T2W",
    "object": "payment",
    "status": "succeeded",
    "amount": {"value": "100.00", "currency": "USD"},
    "customer_id": None,
    "attempts": [{"operation": "authorize", "elapsed_ms": 3}],
    "livemode": False,
}


def _real(**changes: object) -> dict[str, object]:
    return {**PAYMENT, "id": "pay_01M8STQXMHBWQVVZQ6A4FJQZZ1", **changes}


def test_ids_times_and_durations_may_differ() -> None:
    assert differences(PAYMENT, _real()) == []
    later = [{"operation": "authorize", "elapsed_ms": 12}]
    assert differences(PAYMENT, _real(attempts=later)) == []


def test_a_key_missing_or_not_documented_is_a_difference() -> None:
    real = _real()
    del real["customer_id"]
    assert differences(PAYMENT, real) == ["$.customer_id: documented, missing"]
    assert differences(PAYMENT, _real(canceled_at=None)) == [
        "$.canceled_at: in the answer, not documented"
    ]


def test_types_nesting_and_stable_values_must_match() -> None:
    assert differences(PAYMENT, _real(livemode="false"))
    assert differences(PAYMENT, _real(customer_id="cus_1"))  # null documented
    assert differences(PAYMENT, _real(amount="100.00"))
    assert differences(PAYMENT, _real(status="failed")) == [
        "$.status: documented 'succeeded', got 'failed'"
    ]
    assert differences(PAYMENT, _real(amount={"value": "100.00", "currency": "EUR"}))
    assert differences(PAYMENT, _real(attempts=[]))  # one attempt documented


def test_dots_mean_more_keys_or_any_items() -> None:
    shape = parse_shape('{"object": "list", "data": [...], "payment": {"status": "failed", ...}}')
    real = {"object": "list", "data": [1, "x"], "payment": {"status": "failed", "id": "pay_1"}}
    assert differences(shape, real) == []
    assert differences(shape, {**real, "has_more": False})  # the top level is not partial
    fragment = parse_fragment('"status": "canceled", "canceled_at": "..."')
    assert (
        differences(fragment, {"status": "canceled", "canceled_at": "2026-01-17T10:00:00Z"}) == []
    )
    assert differences(fragment, {"status": "canceled", "canceled_at": None})
    assert parse_shape('{"id": "pay_...", "detail": "a ... b"}') == {
        "id": "pay_...",
        "detail": "a ... b",
    }


def test_commands_span_continuations_and_quotes_and_keep_their_variables() -> None:
    body = """SINCE=$(date -u +%F)   # a comment's quote: it's fine
curl -s $KASSA/v1/payments \\
  -d '{
        "amount": 1
      }'
# -> "status": "succeeded"
# a comment
kassa payins reconcile-report --date 2026-01-17 > recon.csv   # all accounts
"""
    steps = split_steps(body, first_line=10)
    assert [step.line for step in steps] == [11, 17]
    assert steps[0].command.startswith("SINCE=$(date -u +%F)")
    assert steps[0].command.endswith("}'")
    assert steps[0].shapes == [{"status": "succeeded", "...": "..."}]
    assert steps[1].command.endswith("# all accounts")
    assert steps[1].shapes == []
