"""The command line through main(argv): output, JSON keys, exit codes and messages."""

import io
import json

import pytest

from bmnn.cli import main

KEYS = {"n", "sum", "mle", "map", "posterior", "predictive", "plugin_mle", "plugin_map"}


def run(argv, capsys, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_gaussian_json_from_file(tmp_path, capsys):
    f = tmp_path / "x.txt"
    f.write_text("1.0 2.0\n3.0, 4.0\n")
    code, out, err = run(["gaussian", "--noise-sd", "1", "--prior-sd", "2", str(f), "--json"], capsys)
    assert code == 0 and err == ""
    d = json.loads(out)
    assert set(d) == KEYS
    assert d["n"] == 4 and d["sum"] == 10.0 and d["mle"] == 2.5
    assert d["map"] == pytest.approx(10 / (4 + 1 / 4))
    assert d["posterior"] == {"mean": pytest.approx(d["map"]), "var": pytest.approx(1 / (4 + 1 / 4))}
    assert d["predictive"]["var"] == pytest.approx(1 + 1 / (4 + 1 / 4))
    assert d["plugin_mle"] == {"mean": 2.5, "var": 1.0}
    assert set(d["plugin_map"]) == {"mean", "var"}


def test_gaussian_csv_with_header_on_stdin(capsys, monkeypatch):
    code, out, _ = run(["gaussian", "--noise-sd", "1", "--prior-sd", "1", "--json", "--header"], capsys, "x\n1\n2\n3\n",
                       monkeypatch)
    assert code == 0 and json.loads(out)["n"] == 3


def test_gaussian_table_output(capsys, monkeypatch):
    code, out, _ = run(["gaussian", "--noise-sd", "1", "--prior-sd", "2", "-"], capsys, "1 2 3 4", monkeypatch)
    assert code == 0
    assert "mu_MAP" in out and "x | D" in out and "N(mean 2.5, var 1)" in out


def test_empty_input_gives_prior_with_note(capsys, monkeypatch):
    code, out, _ = run(["gaussian", "--noise-sd", "1", "--prior-sd", "3", "--prior-mean", "2"], capsys, "", monkeypatch)
    assert code == 0 and "note: no data" in out
    code, out, _ = run(["gaussian", "--noise-sd", "1", "--prior-sd", "3", "--json"], capsys, "\n", monkeypatch)
    d = json.loads(out)
    assert d["n"] == 0 and d["mle"] is None and d["plugin_mle"] is None
    assert d["posterior"] == {"mean": 0.0, "var": 9.0} and d["predictive"] == {"mean": 0.0, "var": 10.0}


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--noise-sd", "0", "--prior-sd", "1"], "argument --noise-sd: expected a finite number > 0, got '0'"),
        (["--noise-sd", "1", "--prior-sd", "-3"], "argument --prior-sd: expected a finite number > 0, got '-3'"),
        (["--noise-sd", "nan", "--prior-sd", "1"], "argument --noise-sd: expected a finite number > 0, got 'nan'"),
        (["--noise-sd", "inf", "--prior-sd", "1"], "argument --noise-sd: expected a finite number > 0, got 'inf'"),
        (["--noise-sd", "one", "--prior-sd", "1"], "argument --noise-sd: expected a finite number > 0, got 'one'"),
        (["--prior-sd", "1"], "the following arguments are required: --noise-sd"),
    ],
)
def test_bad_flags_exit_2_with_one_line(flags, message, capsys, monkeypatch):
    code, out, err = run(["gaussian", *flags], capsys, "1 2", monkeypatch)
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 2\n3 abc 4\n", "<stdin>, line 2: 'abc' is not a number"),
        ("1\nnan\n", "<stdin>, line 2: 'nan' is not a finite number"),
        ("1 -inf", "<stdin>, line 1: '-inf' is not a finite number"),
        ("x\ny\n", "<stdin>, line 1: 'x' is not a number"),
    ],
)
def test_bad_values_exit_2_naming_line_and_token(text, message, capsys, monkeypatch):
    code, out, err = run(["gaussian", "--noise-sd", "1", "--prior-sd", "1"], capsys, text, monkeypatch)
    assert code == 2 and out == ""
    assert err.strip() == f"bmnn gaussian: error: {message}" or message in err
    assert len(err.strip().splitlines()) == 1


def test_missing_and_unreadable_files(tmp_path, capsys):
    code, _, err = run(["gaussian", "--noise-sd", "1", "--prior-sd", "1", str(tmp_path / "nope.txt")], capsys)
    assert code == 2 and "does not exist" in err and "nope.txt" in err
    code, _, err = run(["gaussian", "--noise-sd", "1", "--prior-sd", "1", str(tmp_path)], capsys)
    assert code == 2 and "is a folder" in err
    binary = tmp_path / "b.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    code, _, err = run(["gaussian", "--noise-sd", "1", "--prior-sd", "1", str(binary)], capsys)
    assert code == 2 and "is not UTF-8 text (byte 0xff at offset 0)" in err


def test_unknown_command_exits_2(capsys):
    code, _, err = run(["frobnicate"], capsys)
    assert code == 2 and "invalid choice" in err


def test_gradcheck_json_and_exit_codes(capsys):
    assert main(["gradcheck", "--inputs", "4", "--hidden", "3", "--batch", "5", "--seed", "2", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert set(d) == {"finite_differences", "autograd"}
    assert set(d["finite_differences"]) == set(d["autograd"]) == {"W1", "b1", "W2", "b2"}
    assert max(d["finite_differences"].values()) <= 1e-7 and max(d["autograd"].values()) <= 1e-10


@pytest.mark.parametrize("flag", [["--inputs", "0"], ["--hidden", "-2"], ["--batch", "1.5"], ["--seed", "x"]])
def test_gradcheck_bad_sizes(flag, capsys):
    assert main(["gradcheck", *flag]) == 2
    err = capsys.readouterr().err
    assert "expected a whole number" in err and len(err.strip().splitlines()) == 1
