"""ppverify: verified mathematics, a correctly rounded oracle and a fast torch op for P-pooling.

Importing ``ppverify`` never imports torch; ``ppverify.ops`` does.
"""

__version__ = "0.1.0"
