"""Fixtures for the documents tests: the real app on a local blob store or on S3 (moto's server)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from tests.conftest import AppFactory
from tests.documents.helpers import DocumentsApp, local_blob_contents
from tests.store.blob_fixtures import MotoS3, running_moto_server, s3_contents
from tests.support import client_for


@pytest.fixture(scope="module")
def moto_s3() -> Iterator[MotoS3]:
    with running_moto_server() as moto:
        yield moto


@pytest_asyncio.fixture(loop_scope="session")
async def local_docs(app_factory: AppFactory) -> AsyncIterator[DocumentsApp]:
    app = await app_factory()
    root = app.state.settings.data_dir / "blobs"
    async with client_for(app) as client:
        yield DocumentsApp(app=app, client=client, store="local", contents=local_blob_contents(root))


@pytest_asyncio.fixture(loop_scope="session")
async def s3_docs(app_factory: AppFactory, moto_s3: MotoS3) -> AsyncIterator[DocumentsApp]:
    bucket = moto_s3.new_bucket()
    app = await app_factory(blob_store="s3", s3_bucket=bucket, s3_endpoint_url=moto_s3.endpoint_url)
    async with client_for(app) as client:
        yield DocumentsApp(app=app, client=client, store="s3", contents=lambda: s3_contents(moto_s3, bucket))


@pytest.fixture(params=["local", "s3"])
def docs(request: pytest.FixtureRequest) -> DocumentsApp:
    """The app on each blob store in turn."""
    app: DocumentsApp = request.getfixturevalue(f"{request.param}_docs")
    return app
