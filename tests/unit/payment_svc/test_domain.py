"""Payment rules and the mock provider, without fixtures."""


import pytest

from payment_svc import domain
from payment_svc.domain import CAPTURED, FAILED, PENDING, REFUNDED, Action
from payment_svc.provider import MockProvider, ProviderError


@pytest.mark.parametrize("token, kind", [
    ("tok_ok", domain.OK), ("tok_declined", domain.DECLINED),
    ("tok_insufficient_funds", domain.DECLINED), ("tok_flaky", domain.FLAKY),
    ("tok_slow", domain.SLOW), ("tok_unknown", domain.DECLINED), ("", domain.DECLINED),
    (None, domain.DECLINED)])
def test_tokens_are_classified_as_the_design_says(token, kind):
    assert domain.token_kind(token) == kind


def test_the_keys_of_an_order_are_its_id_and_a_refund_key():
    assert domain.charge_key("o1") == "o1"
    assert domain.refund_key("o1") == "refund-o1"


@pytest.mark.parametrize("status, cancelled, has_intent, action", [
    (None, False, True, Action.CHARGE),
    (None, False, False, Action.RETRY),      # order.created still on its way
    (None, True, True, Action.NOTHING),      # cancelled first: never charged
    (None, True, False, Action.NOTHING),
    (PENDING, False, True, Action.CHARGE),   # resumed with the same key
    (PENDING, True, True, Action.CHARGE),    # may have captured: ask, then refund
    (CAPTURED, False, True, Action.NOTHING),
    (FAILED, False, True, Action.NOTHING),
    (REFUNDED, True, True, Action.NOTHING)])
def test_what_inventory_reserved_does_in_every_state(status, cancelled, has_intent, action):
    assert domain.on_reserved(status, cancelled, has_intent) is action


def test_a_provider_answer_is_recorded_only_on_a_pending_payment():
    assert domain.on_outcome(PENDING, True, False) == [Action.CAPTURE]
    assert domain.on_outcome(PENDING, True, True) == [Action.CAPTURE, Action.REFUND]
    assert domain.on_outcome(PENDING, False, False) == [Action.FAIL]
    assert domain.on_outcome(PENDING, False, True) == [Action.FAIL]
    for settled in (CAPTURED, FAILED, REFUNDED):
        assert domain.on_outcome(settled, True, True) == []


@pytest.mark.parametrize("status, action", [
    (None, Action.NOTHING), (PENDING, Action.NOTHING), (CAPTURED, Action.REFUND),
    (FAILED, Action.NOTHING), (REFUNDED, Action.NOTHING)])
def test_what_order_cancelled_does_in_every_state(status, action):
    assert domain.on_cancelled(status) is action


def test_provider_calls_come_at_once_then_after_each_delay():
    assert domain.attempt_schedule([100, 300, 900]) == [0.0, 0.1, 0.3, 0.9]
    assert domain.attempt_schedule([]) == [0.0]
    assert domain.attempt_schedule(250) == [0.0, 0.25]
    assert domain.attempt_schedule("[10, 20]") == domain.attempt_schedule("10,20") == [
        0.0, 0.01, 0.02]
    with pytest.raises(ValueError):
        domain.attempt_schedule([-1])


@pytest.mark.parametrize("limit", [0, 101, "5", 2.0, None, True])
def test_bad_limits_are_refused(limit):
    with pytest.raises(ValueError):
        domain.check_limit(limit)


def test_the_provider_captures_once_per_key():
    provider = MockProvider(slow_s=0)
    first = provider.charge("tok_ok", 500, "USD", "o1")
    again = provider.charge("tok_ok", 500, "USD", "o1")
    assert first == again and first.captured
    assert provider.captures_for("o1") == 1 and provider.charge_calls("o1") == 2


def test_the_provider_declines_declined_and_unknown_tokens():
    provider = MockProvider(slow_s=0)
    for n, token in enumerate(("tok_declined", "tok_insufficient_funds", "tok_what")):
        result = provider.charge(token, 500, "USD", f"o{n}")
        assert (result.status, result.reason) == ("declined", "payment_declined")
        assert provider.captures_for(f"o{n}") == 0


def test_a_flaky_token_fails_twice_per_key_then_captures():
    provider = MockProvider(slow_s=0)
    for _ in range(2):
        with pytest.raises(ProviderError):
            provider.charge("tok_flaky", 500, "USD", "o1")
    assert provider.charge("tok_flaky", 500, "USD", "o1").captured
    with pytest.raises(ProviderError):
        provider.charge("tok_flaky", 500, "USD", "o2")  # another key starts over


def test_a_refund_happens_once_per_key_even_for_a_capture_it_never_saw():
    provider = MockProvider(slow_s=0)
    ref = provider.charge("tok_ok", 500, "USD", "o1").provider_ref
    assert provider.refund(ref, 500, "refund-o1") == provider.refund(ref, 500, "refund-o1")
    assert provider.refunded_cents(ref) == 500 and provider.refunds_for("refund-o1") == 1
    assert provider.refund("ch_before_a_restart", 300, "refund-o2").status == "refunded"


def test_a_provider_that_is_down_raises_provider_errors():
    provider = MockProvider(slow_s=0)
    provider.down = True
    with pytest.raises(ProviderError):
        provider.charge("tok_ok", 500, "USD", "o1")
    with pytest.raises(ProviderError):
        provider.refund("ch_x", 500, "refund-o1")
    assert provider.captures_for("o1") == 0
