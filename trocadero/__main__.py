from trocadero.playout.cli import main

raise SystemExit(main())
