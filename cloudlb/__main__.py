"""``python -m cloudlb``: the ``cloudlb`` command without relying on the installed script."""

from cloudlb.cli import main

if __name__ == "__main__":
    main()
