from uptime_relay.cli import main

raise SystemExit(main())
