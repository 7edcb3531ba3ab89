import pytest

from gateway.infra.live_streams import LiveStreams, StreamRefused


def test_streams_are_counted_per_client_and_in_total_and_given_back():
    streams = LiveStreams(per_client=2, total=3)
    with streams.admit("10.0.0.1"), streams.admit("10.0.0.1"):
        with pytest.raises(StreamRefused) as per_client:
            with streams.admit("10.0.0.1"):
                pass
        assert per_client.value.status == 429
        with streams.admit("10.0.0.2"):
            with pytest.raises(StreamRefused) as total:
                with streams.admit("10.0.0.3"):
                    pass
            assert total.value.status == 503
        assert streams.open == 2
    assert streams.open == 0
    with streams.admit("10.0.0.1"), streams.admit("10.0.0.1"):
        pass  # the first client's places were given back
