"""A subscription sees only what its creator could search: a patient-context token's subscription
hears nothing of other patients, and a creator whose account is disabled stops receiving."""

from __future__ import annotations

import asyncio

from pymongo import AsyncMongoClient

from fhir_server.assembly import account_authority
from fhir_server.auth import store as auth_store
from fhir_server.auth.devtoken import make_dev_token
from fhir_server.auth.users import create_user
from tests.subscriptions.builders import create, criteria_subscription, observation, patient, wait_status
from tests.subscriptions.conftest import SubAppFactory
from tests.subscriptions.receiver import Receiver
from tests.support import client_for


async def test_a_patient_context_subscription_does_not_see_another_patients_resources(
    sub_app_factory: SubAppFactory, receiver: Receiver
) -> None:
    app = await sub_app_factory(auth_enabled=True)
    settings = app.state.settings
    admin = make_dev_token(settings=settings, scope="system/*.cruds", allow_wildcard=True)
    async with client_for(app, Authorization=f"Bearer {admin}") as staff:
        mine = await create(staff, patient("Mine"))
        theirs = await create(staff, patient("Theirs"))
        app_token = make_dev_token(
            settings=settings, scope="patient/Observation.rs user/Subscription.cruds", patient=mine["id"]
        )
        async with client_for(app, Authorization=f"Bearer {app_token}") as patient_app:
            # Criteria name no patient: the token's patient context is what confines it.
            subscription = await create(
                patient_app,
                criteria_subscription(
                    receiver.url, "Observation?status=final", payload="application/fhir+json"
                ),
            )
            await wait_status(patient_app, subscription["id"], "active")
        hidden = await create(staff, observation(theirs["id"]))
        visible = await create(staff, observation(mine["id"]))
        put = (await receiver.wait_for(None, 1))[0]
        await asyncio.sleep(1.5)
        received = receiver.snapshot()
        assert [r.path for r in received] == [f"/hook/Observation/{visible['id']}"]
        assert hidden["id"] not in put.body.decode()


async def test_a_creator_whose_account_is_disabled_stops_receiving(
    sub_app_factory: SubAppFactory, receiver: Receiver, mongo_uri: str
) -> None:
    mongo: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongo_uri, tz_aware=True)
    try:
        database = "test_subs_" + receiver.url.rsplit(":", 1)[1].split("/")[0]
        db = mongo[database]
        app = await sub_app_factory(
            auth_enabled=True, database_name=database, authority=account_authority(db, cache_seconds=0)
        )
        settings = app.state.settings
        await create_user(db=db, username="labtech", password="correct horse battery staple", role="lab")
        token = make_dev_token(
            settings=settings, scope="user/Patient.rs user/Subscription.cruds", subject="labtech"
        )
        admin = make_dev_token(settings=settings, scope="system/*.cruds", allow_wildcard=True)
        async with (
            client_for(app, Authorization=f"Bearer {token}") as lab,
            client_for(app, Authorization=f"Bearer {admin}") as staff,
        ):
            subscription = await create(lab, criteria_subscription(receiver.url, "Patient?family=Watched"))
            await wait_status(staff, subscription["id"], "active")
            await create(staff, patient("Watched"))
            await receiver.wait_for(None, 1)
            await db[auth_store.USERS].update_one({"_id": "labtech"}, {"$set": {"active": False}})
            await create(staff, patient("Watched"))
            stopped = await wait_status(staff, subscription["id"], "off")
            assert stopped["error"] == "the subscription's creator no longer has access"
            await asyncio.sleep(1.0)
            assert len(receiver.snapshot()) == 1
    finally:
        await mongo.close()
