"""`make update-golden`: rewrite tests/golden/ from the current chart and environments (see vllm_models.golden)."""
import sys

from vllm_models import golden

if __name__ == "__main__":
    sys.exit(golden.main())
