"""Stopping the server; this file runs after the others that use `keyed_server`."""


def test_ctrl_c_stops_the_server_after_saying_where_it_served(keyed_server):
    out, err = keyed_server.stop()
    assert keyed_server.process.returncode == 0, err
    lines = out.splitlines()
    assert lines[1].startswith(f"page: {keyed_server.url}/") and "Bearer KEY" in lines[1]
    assert lines[-1] == "stopped" and "warning" not in err
