from starlette.testclient import TestClient


def test_root_context_exists_after_first_start(client: TestClient) -> None:
    response = client.get("/api/v1/contexts")
    assert response.status_code == 200
    assert [c["key"] for c in response.json()["items"]] == ["root"]


def test_the_server_imports_without_the_test_dependencies() -> None:
    """``pip install .`` brings no test extras: the application must not need them."""
    import re
    import subprocess
    import sys
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    extras = [
        re.split(r"[<>=\[ ]", spec)[0]
        for spec in project["project"]["optional-dependencies"]["test"]
    ]
    modules = {name.lower().replace("-", "_") for name in extras}
    script = (
        "import sys\n"
        f"blocked = {sorted(modules)!r}\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in blocked:\n"
        "            raise ImportError(f'{name} is a test dependency')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import ostiary.app, ostiary.cli\n"
        "ostiary.app.create_app\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
