"""How ppverify reads the supplement's notation (one policy per kind of display).

Each claim's ``reading`` field quotes the rule that applies to it; the audit document and the
README print ``LIM_POLICY`` and ``DELTA_POLICY`` once.
"""

from __future__ import annotations

LIM_POLICY = (
    "A display 'lim_{a->+inf} E_0 = E_1 (rel) E_2 ... = L' in which some E_i still contains "
    "alpha has two readings, and ppverify checks both, each with its own verdict: the literal "
    "reading (record id without suffix): every relation E_i (rel) E_(i+1) holds for every "
    "alpha in the stated range; the asymptotic reading (record id ending in '.asym'): the "
    "limit applies to every member of the chain, so each '=' says both limits exist and are "
    "equal and each '<' or '>' says the limits compare non-strictly (limits keep only "
    "non-strict inequalities). A step that is an identity in alpha holds in both readings and "
    "has one record. Each display's conclusion 'lim E_0 = L' and its end-to-end claim (does "
    "the final bound hold against the true derivative?) have records of their own "
    "('.chain')."
)

DELTA_POLICY = (
    "Statements are checked as printed, including the upstream gradient delta = dE/dy_j: an "
    "inequality printed as 'A delta < B delta' is checked for every real delta (it needs "
    "delta > 0, which the supplement never states), not as 'A < B'."
)

LITERAL = "literal (lim-display policy): the relation for every alpha > 0."
ASYMPTOTIC = ("asymptotic (lim-display policy): the limits as alpha -> +inf of both sides "
              "exist and satisfy the relation (a strict inequality weakened to a non-strict "
              "one).")
IDENTITY = ("an identity in alpha (lim-display policy): it holds for every alpha, so in both "
            "the literal and the asymptotic reading.")
CHAIN = ("end to end (lim-display policy): the chain's final bound compared with the true "
         "derivative dE/dx_k = delta dy/dx_k, for every alpha > 0.")
CONCLUSION = "the display's conclusion: a limit compared with a number (one reading)."
WITH_DELTA = " Checked as printed, times delta."
ABOUT = ("a question about the display rather than one of its relations (lim-display policy: "
         "one reading).")

__all__ = ["ABOUT", "ASYMPTOTIC", "CHAIN", "CONCLUSION", "DELTA_POLICY", "IDENTITY", "LIM_POLICY",
           "LITERAL", "WITH_DELTA"]
