"""`python -m trocadero.playout.mdvr.process FD`: the gateway process the daemon starts."""

import sys

from .child import run_child

if __name__ == "__main__":
    sys.exit(run_child(int(sys.argv[1])))
