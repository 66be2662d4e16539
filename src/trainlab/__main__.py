"""`python -m trainlab ...` (also what torchrun runs)."""
from .cli.main import main

raise SystemExit(main())
