"""The README's library snippet runs as pasted (shrunk to one epoch on a few images)."""
import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def library_snippet() -> str:
    text = README.read_text()
    section = text[text.index("### As a library"):text.index("## Tests")]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1, "the library section should hold one complete snippet"
    return blocks[0]


def test_readme_library_snippet_runs_as_pasted(tmp_path, monkeypatch, capsys):
    code = library_snippet()
    shrunk = code.replace('create_dataset("digits")', 'create_dataset("digits", limit_train=64)') \
                 .replace("num_epochs=5", "num_epochs=1")
    assert shrunk.count("limit_train=64") == 1 and shrunk.count("num_epochs=1") == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(shrunk, str(README), "exec"), {"__name__": "__readme__"})
    assert (tmp_path / "best_model.pdparams").is_file() and (tmp_path / "cnn-loss3.pdf").is_file()
    assert re.search(r"^test accuracy: \d\.\d{4}$", capsys.readouterr().out, re.M)
