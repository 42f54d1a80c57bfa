"""Numbers as people read them: '0.82 M', '16.4 K', '1 m 20 s'."""

_UNITS = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "K"))


def format_count(value: float, unit: str = "") -> str:
    """Three significant figures in the largest multiple that keeps at least 0.1 of it, so that
    817 792 reads '0.82 M', next to the millions it is usually compared with; with a unit,
    1 851 136 FLOPs reads '1.85 MFLOPs'."""
    if abs(value) < 1000:
        return f"{value:g} {unit}".rstrip()
    for size, prefix in _UNITS:
        if abs(value) >= 0.1 * size:
            return f"{_three_figures(value / size)} {prefix}{unit}"


def _three_figures(value: float) -> str:
    if abs(value) < 10:
        return f"{value:.2f}"
    if abs(value) < 100:
        return f"{value:.1f}"
    return f"{value:.0f}"


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} m"
    if minutes:
        return f"{minutes} m {seconds:02d} s"
    return f"{seconds} s"


def format_value(value) -> str:
    """A parameter value as the project file would say it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
