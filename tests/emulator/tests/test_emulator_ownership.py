"""Acquire and release: the docs' examples and the rules of "Behaviour the docs leave open"."""

from __future__ import annotations

from emulator_helpers import seed_with

MOOD_OWNED_ELSEWHERE = [
    {"template": "mood", "service": "exist_ios", "manual": True, "active": True, "available_services": ["exist_ios"]},
]


def test_docs_acquire_example_templates_mood_and_mood_note(exist):
    """The docs' request [{"template":"mood"}, {"template":"mood_note"}] acquires both; mood_note is created."""
    exist.admin.reset(seed_with(MOOD_OWNED_ELSEWHERE))
    response = exist.post("attributes/acquire/", [{"template": "mood"}, {"template": "mood_note"}])
    assert response.status_code == 200
    assert response.json() == {"success": [{"template": "mood"}, {"template": "mood_note"}], "failed": []}
    assert exist.owned_names() == ["mood", "mood_note"]
    assert exist.attribute("mood_note")["service"] == "demo_service"


def test_docs_acquire_failed_example_missing_field(exist):
    """The docs' failed item: {"title": "mood"} gets missing_field "Object at index 0 missing field(s) 'name'"."""
    response = exist.post("attributes/acquire/", [{"title": "mood"}, {"name": "mood_note"}])
    assert response.status_code == 202
    body = response.json()
    assert body["failed"] == [
        {"title": "mood", "error_code": "missing_field", "error": "Object at index 0 missing field(s) 'name'"}
    ]
    assert body["success"] == [{"name": "mood_note"}]


def test_docs_release_example_unauthorised_and_success(exist):
    """The docs' release example: mood_note (owned) succeeds, mood (not owned) fails with unauthorised."""
    exist.admin.reset(
        seed_with(
            MOOD_OWNED_ELSEWHERE
            + [
                {
                    "template": "mood_note",
                    "service": "demo_service",
                    "manual": True,
                    "available_services": ["exist_ios"],
                }
            ]
        )
    )
    response = exist.post("attributes/release/", [{"name": "mood"}, {"name": "mood_note"}])
    assert response.status_code == 202
    body = response.json()
    assert body["failed"] == [
        {"name": "mood", "error_code": "unauthorised", "error": "Attribute 'mood' does not belong to this service"}
    ]
    assert body["success"] == [{"name": "mood_note", "service": "exist_ios"}]
    assert exist.owned_names() == []


def test_acquire_takes_over_from_another_service(exist):
    """Acquiring steps (owned by withings in the default world) moves ownership to demo_service."""
    assert exist.attribute("steps")["service"] == "withings"
    response = exist.post("attributes/acquire/", [{"name": "steps"}])
    assert response.status_code == 200
    assert exist.attribute("steps")["service"] == "demo_service"
    assert "steps" in exist.owned_names()
    assert "steps" not in exist.owned_names("withings-token")


def test_acquire_already_owned_succeeds_and_applies_manual(exist):
    """Acquiring coffees again succeeds; the given manual flag is applied, and kept when omitted."""
    assert exist.post("attributes/acquire/", [{"name": "coffees", "manual": False}]).status_code == 200
    assert exist.attribute("coffees")["manual"] is False
    assert exist.post("attributes/acquire/", [{"name": "coffees"}]).status_code == 200
    assert exist.attribute("coffees")["manual"] is False
    assert exist.post("attributes/acquire/", [{"template": "coffees", "manual": True}]).status_code == 200
    assert exist.attribute("coffees")["manual"] is True


def test_acquire_new_template_defaults_manual_false_and_echoes_item(exist):
    """A template the user lacks is created, owned, manual false unless given; the item is echoed."""
    response = exist.post("attributes/acquire/", [{"template": "water"}, {"template": "tracks", "manual": True}])
    assert response.json()["success"] == [{"template": "water"}, {"template": "tracks", "manual": True}]
    assert exist.attribute("water")["manual"] is False
    assert exist.attribute("tracks")["manual"] is True


def test_acquire_success_objects_returns_full_attribute(exist):
    """With success_objects the success item is the whole Attribute object."""
    response = exist.post(
        "attributes/acquire/", [{"name": "mood_note", "manual": True}], params={"success_objects": "1"}
    )
    assert response.status_code == 200
    item = response.json()["success"][0]
    assert item == {
        "template": "mood_note",
        "name": "mood_note",
        "label": "Mood note",
        "group": {"name": "mood", "label": "Mood", "priority": 3},
        "subgroup": None,
        "service": {"name": "demo_service", "label": "Demo Service"},
        "active": True,
        "priority": 2,
        "manual": True,
        "value_type": 2,
        "value_type_description": "String (max 1000 characters)",
        "available_services": [{"name": "exist_ios", "label": "Exist for iOS"}],
    }


def test_acquire_without_success_objects_echoes_request_item(exist):
    """Without success_objects the success item is the request item as sent."""
    response = exist.post("attributes/acquire/", [{"name": "mood_note", "manual": True}])
    assert response.json()["success"] == [{"name": "mood_note", "manual": True}]


def test_acquire_unknown_name_and_template_not_found(exist):
    """Unknown name and unknown template both fail with not_found; nothing else changes."""
    response = exist.post("attributes/acquire/", [{"name": "nope"}, {"template": "not_a_template"}])
    assert response.status_code == 202
    failed = response.json()["failed"]
    assert [f["error_code"] for f in failed] == ["not_found", "not_found"]
    assert failed[0]["error"] == "Attribute matching query does not exist."
    assert exist.attribute("nope") is None


def test_acquire_inactive_attribute_reactivates_it(exist):
    """Acquiring an inactive, unowned attribute makes it active and owned."""
    assert exist.attribute("pages_read")["active"] is False
    exist.post("attributes/acquire/", [{"name": "pages_read"}])
    assert exist.attribute("pages_read")["active"] is True
    assert exist.attribute("pages_read")["service"] == "demo_service"


def test_acquire_without_write_scope_not_allowed(exist):
    """A token without activity_write cannot acquire steps: per-item not_allowed with the seen sentence."""
    exist.admin.reset(
        seed_with(
            [{"template": "steps", "service": "withings", "available_services": ["withings"]}],
            scopes=["activity_read", "mood_write"],
        )
    )
    response = exist.post("attributes/acquire/", [{"name": "steps"}, {"template": "mood"}])
    assert response.status_code == 202
    body = response.json()
    assert body["failed"] == [
        {
            "name": "steps",
            "error_code": "not_allowed",
            "error": "No permission to write to attributes in group 'activity'",
        }
    ]
    assert body["success"] == [{"template": "mood"}]
    assert exist.attribute("steps")["service"] == "withings"


def test_manual_write_covers_manual_attributes_only(exist):
    """manual_write lets a token acquire a manual attribute of any group, but not an automatic one."""
    exist.admin.reset(
        seed_with(
            [
                {"name": "reading_time", "label": "Reading time", "group": "media", "value_type": 3, "manual": True},
                {"template": "tracks", "service": None, "manual": False},
            ],
            scopes=["manual_write"],
        )
    )
    response = exist.post("attributes/acquire/", [{"name": "reading_time"}, {"name": "tracks"}])
    body = response.json()
    assert body["success"] == [{"name": "reading_time"}]
    assert body["failed"][0]["error_code"] == "not_allowed"
    assert body["failed"][0]["error"] == "No permission to write to attributes in group 'media'"


def test_release_passes_to_next_available_service(exist):
    """After taking over steps, releasing hands it to the first other service in available_services."""
    exist.post("attributes/acquire/", [{"name": "steps"}])
    response = exist.post("attributes/release/", [{"name": "steps"}])
    assert response.status_code == 200
    assert response.json()["success"] == [{"name": "steps", "service": "withings"}]
    steps = exist.attribute("steps")
    assert steps["service"] == "withings" and steps["active"] is True


def test_release_with_no_other_service_leaves_inactive(exist):
    """Releasing coffees (nobody else can fill it) leaves it inactive with no owner, and out of the owned list."""
    response = exist.post("attributes/release/", [{"name": "coffees"}])
    assert response.status_code == 200
    assert response.json()["success"] == [{"name": "coffees", "service": "", "active": False}]
    coffees = exist.attribute("coffees")
    assert coffees["service"] is None and coffees["active"] is False
    assert exist.owned_names() == []
    names = [a["name"] for a in exist.get("attributes/", params={"limit": 100}).json()["results"]]
    assert "coffees" not in names


def test_release_success_objects(exist):
    """Release with success_objects answers the attribute object after the release."""
    response = exist.post("attributes/release/", [{"name": "coffees"}], params={"success_objects": "true"})
    item = response.json()["success"][0]
    assert item["name"] == "coffees" and item["service"] is None and item["active"] is False


def test_release_missing_name_and_unknown(exist):
    """Release items without name fail with missing_field; unknown names with not_found."""
    body = exist.post("attributes/release/", [{}, {"name": "nope"}]).json()
    assert body["failed"][0]["error"] == "Object at index 0 missing field(s) 'name'"
    assert body["failed"][1]["error_code"] == "not_found"


def test_more_than_35_items_is_400_and_nothing_applied(exist):
    """36 items: 400 with a detail, and not even the valid first item is applied."""
    items = [{"name": "steps"}] + [{"template": "water"}] * 35
    response = exist.post("attributes/acquire/", items)
    assert response.status_code == 400
    assert "35" in response.json()["detail"]
    assert exist.attribute("steps")["service"] == "withings"
    assert exist.attribute("water") is None
    assert exist.post("attributes/acquire/", [{"template": "water"}] * 35).status_code == 200


def test_body_not_array_of_objects_is_400(exist):
    """A non-array body, an array of non-objects, or invalid JSON get 400 with a detail."""
    for body in ({"name": "steps"}, ["steps"]):
        response = exist.post("attributes/release/", body)
        assert response.status_code == 400 and response.json()["detail"]
    raw = exist.http.post(exist.url("attributes/acquire/"), data="[{", headers={"Authorization": "Bearer demo-token"})
    assert raw.status_code == 400 and raw.json()["detail"]
