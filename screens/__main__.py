from screens.app import main

raise SystemExit(main())
