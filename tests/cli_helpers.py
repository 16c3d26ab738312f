"""Running the `bench` CLI in the test process."""

from bench.cli import main


def run_cli(capsys, *argv):
    """Run ``bench ARGV`` in this process: ``(exit code, stdout, stderr)``."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
