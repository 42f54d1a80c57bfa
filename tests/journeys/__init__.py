"""Journey tests: one module per journey of JOURNEYS.md, driving the real main window at 1440×900.

    JOURNEY_SCREENSHOTS=/tmp/journeys QT_QPA_PLATFORM=offscreen .venv/bin/python -P -m pytest tests/journeys

leaves /tmp/journeys/<journey>/NN-what.png to look through (without the variable they go to pytest's
tmp_path). An xfail names a product gap a journey runs into; see each test's last lines."""
