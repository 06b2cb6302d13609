from headroom.cli.main import run

run()
