"""Packaging for hesk_py: a self-hosted help desk in the spirit of HESK."""
import re
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "hesk_py" / "__init__.py").read_text()).group(1)

setup(
    name="hesk_py",
    version=VERSION,
    description="A self-hosted help desk (ticket system) in the spirit of HESK",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    packages=find_packages(include=["hesk_py", "hesk_py.*", "admin", "admin.*", "install", "install.*"]),
    include_package_data=True,
    package_data={"hesk_py": ["migrations/*", "migrations/versions/*.py", "translations/*/LC_MESSAGES/*"]},
    install_requires=[
        "Flask>=3.0,<4",
        "Flask-SQLAlchemy>=3.1,<4",
        "SQLAlchemy>=2.0,<3",
        "PyMySQL[rsa]>=1.1,<2",
        # Fernet encrypts the mail passwords stored in Settings (also needed by PyMySQL[rsa])
        "cryptography>=42,<51",
        "Flask-WTF>=1.2,<2",
        "WTForms>=3.1,<4",
        "email-validator>=2.1,<3",
        "Flask-Login>=0.6.3,<0.7",
        "waitress>=3.0,<4",
        "Flask-Migrate>=4.0,<5",
        "alembic>=1.13,<2",
        "Flask-Babel>=4.0,<5",
        "markdown-it-py>=3.0,<5",
        "nh3>=0.2.17,<1",
        "Flask-Limiter>=3.5,<5",
        "puremagic>=1.20,<2",
        "IMAPClient>=3.0,<5",
        "pyotp>=2.9,<3",
        "segno>=1.6,<2",
        "flask-talisman>=1.1,<2",
    ],
    extras_require={
        "test": [
            "pytest>=8,<10",
            "aiosmtpd>=1.4,<2",
            "playwright>=1.45,<2",
            "pytest-playwright>=0.5,<1",
        ],
    },
    entry_points={"console_scripts": ["hesk-py = hesk_py.cli:main"]},
    classifiers=[
        "Framework :: Flask",
        "Programming Language :: Python :: 3",
        "Topic :: Communications",
    ],
)
