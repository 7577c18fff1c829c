"""``ppverify report``: figures of the mathematics of P-pooling and the published audit.

Built from the layers below (the oracle for every plotted value, ``ppverify.claims`` for the
audit table, ``ppverify.ops`` only for the accuracy maps that measure it). Imports no torch at
module import time: figures that need it import it when they are drawn and are skipped with a
message when it is missing.

* ``catalogue.FIGURES``: one record per figure (file stem, title, caption, claim ids, builder,
  requirements).
* ``driver.build_report(out, quick=False, progress=...)``: draws every figure, writes the
  document, returns a ``ReportResult``.
* ``document``: ``reports/index.md`` and ``reports/index.html`` from the same records.
"""
