import pytest

from ticketing.db.engine import create_engine, session_factory


@pytest.fixture
async def sessions(stack):
    engine = create_engine(stack.database_url)
    yield session_factory(engine)
    await engine.dispose()
