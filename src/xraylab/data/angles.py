"""Patient-rotation angle groups of Fok et al. (Sci. Rep. 2024, seed 003, Methods).

Groups (α in degrees, 2° steps): Moderate− [−20, −12], Low− [−10, −4],
Center [−2, 2], Low+ [4, 10], Moderate+ [12, 20]. Angles between the paper's
2° grid points are assigned to the nearer group (boundaries at ±3° and ±11°);
angles beyond ±20° stay in the Moderate groups.
"""

from __future__ import annotations

ANGLE_GROUPS = ("Moderate-", "Low-", "Center", "Low+", "Moderate+")

# The paper's α range of each group (degrees, 2° grid), for labels of tables and figures.
ANGLE_GROUP_RANGES = {"Moderate-": "−20…−12°", "Low-": "−10…−4°", "Center": "−2…2°", "Low+": "4…10°",
                      "Moderate+": "12…20°"}


def angle_group(alpha_deg: float) -> str:
    """Return the Fok et al. angle group name for a rotation ``alpha_deg`` (degrees)."""
    a = float(alpha_deg)
    if a <= -11.0:
        return "Moderate-"
    if a <= -3.0:
        return "Low-"
    if a < 3.0:
        return "Center"
    if a < 11.0:
        return "Low+"
    return "Moderate+"
