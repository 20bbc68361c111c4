"""python -m dynaworld.cli"""

from dynaworld.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
