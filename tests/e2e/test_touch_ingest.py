from datetime import datetime, timedelta, timezone

import requests


def test_touch_batch_partial_rejection(api, marketer):
    yesterday = (datetime.now(timezone.utc) - timedelta(days=1)).isoformat()
    batch = {"touches": [
        {"email": "Grace.Hopper@Example.com", "occurred_at": yesterday, "campaign": "Fair", "channel": "event",
         "source": "fair", "medium": "badge", "external_id": "b-1"},
        {"visitor_id": "Visitor_from_old_sys1", "occurred_at": yesterday, "campaign": "Legacy", "channel": "referral",
         "source": "old-ats", "medium": "import"},
        {"email": "nobody", "occurred_at": "2020-01-01T00:00:00Z", "campaign": "Fair", "channel": "event",
         "source": "fair", "medium": "badge"},
        {"visitor_id": "Visitor_from_old_sys1", "occurred_at": (datetime.now(timezone.utc) + timedelta(days=2)).isoformat(),
         "campaign": "Fair", "channel": "event", "source": "fair", "medium": "badge"},
    ]}
    response = requests.post(api + "/touches", json=batch, headers=marketer)
    assert response.status_code == 200
    body = response.json()
    assert (body["recorded"], body["rejected"]) == (2, 2)
    assert [r["status"] for r in body["results"]] == ["recorded", "recorded", "rejected", "rejected"]
    assert {e["field"] for e in body["results"][2]["errors"]} == {"email", "occurred_at"}
    assert [e["field"] for e in body["results"][3]["errors"]] == ["occurred_at"]


def test_single_touch_form_and_envelope_errors(api, marketer):
    single = {"visitor_id": "Visitor_from_old_sys1", "occurred_at": datetime.now(timezone.utc).isoformat(),
              "campaign": "One", "channel": "event", "source": "fair", "medium": "badge"}
    assert requests.post(api + "/touches", json=single, headers=marketer).json()["recorded"] == 1
    empty = requests.post(api + "/touches", json={"touches": []}, headers=marketer)
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "touches"
    not_json = requests.post(api + "/touches", data="<xml/>", headers={**marketer, "Content-Type": "application/json"})
    assert not_json.status_code == 422
