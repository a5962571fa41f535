from setuptools import find_packages, setup

setup(
    name="pserv",
    version="0.1.0",
    description="Bare-metal power control that does not lose an operator's intent",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.11",
    # templates/ (the UI's Jinja2 templates) installs as pserv/templates/,
    # where pserv/region/html.py finds it; a checkout serves templates/.
    packages=find_packages(include=["pserv", "pserv.*"]) + ["pserv.templates"],
    package_dir={"pserv.templates": "templates"},
    include_package_data=True,
    package_data={
        "pserv.region": ["migrations/*.py", "migrations/versions/*.py"],
        "pserv.templates": ["*.html", "README", "static/*"],
    },
    # Every third-party module pserv imports at run time (outside
    # pserv/testing), by distribution; tests/test_setup.py checks it.
    install_requires=[
        # [tls]: pyOpenSSL and service-identity: the RPC's TLS, and HTTPS to
        # Redfish BMCs with host name checking.
        "Twisted[tls]>=24.7",
        "pyOpenSSL",
        "zope.interface",
        "attrs",
        "cattrs>=24.1",  # the RPC messages' one conversion to and from the wire (pserv/rpc/wire.py)
        "treq>=24.9",
        # The RPC's certificate; pysnmp needs it too, for SNMPv3 privacy.
        "cryptography",
        "SQLAlchemy>=2.0",
        "alembic>=1.13",
        # klein: routing for the REST API on twisted.web (over Werkzeug's).
        "klein>=24.8",
        "Werkzeug",
        # The region checks requests against the OpenAPI document, whose
        # references it resolves with referencing (jsonschema's own).
        "jsonschema>=4.18",
        "referencing",
        "PyYAML>=6",
        # argon2-cffi: users' passwords, hashed with argon2id (the password
        # hashing competition's winner, OWASP's first choice), with a
        # maintained C core; bcrypt would cap passwords at 72 bytes.
        "argon2-cffi>=23.1",
        # Jinja2: the UI's HTML templates (templates/), autoescaped.
        "Jinja2>=3.1",
        # The region's GET /metrics and the cluster's --metrics-listen, in
        # Prometheus' text format (docs/operations.md), each process with
        # registries of its own.
        "prometheus-client>=0.20",
    ],
    extras_require={
        # The tests, and what pserv/testing needs beyond the above: the
        # emulators (sushy-tools, bcrypt, pytest fixtures) and the stub
        # region's schema registry (referencing).  The fake driver, the
        # fakes the simulation and the demo use need nothing more.
        "test": [
            "pytest>=8.4",
            "pytest-twisted>=1.14",
            "hypothesis>=6.130",
            "sushy-tools>=2.0",
            "bcrypt",
            "openapi-spec-validator>=0.7",
            "referencing",
            # The API's contract fuzzed against a real region
            # (tests/region/test_schemathesis.py) and its bodies generated
            # in process (tests/region/test_openapi_settings.py).  Pinned to
            # a minor release: the tests read its config file, its NDJSON
            # report and its cases' metadata.  It needs hypothesis>=6.130
            # and pytest>=8.4, which the lines above allow.
            "schemathesis>=4.32.5,<4.33",
            # The browser tests (tests/browser) drive the UI with
            # Playwright's sync API, the well-kept driver; it launches the
            # system's chromium (Debian's, which the Makefile installs) by
            # executable_path, so nothing downloads a browser.
            "playwright>=1.49",
        ],
        # The BMC libraries: only the cluster's drivers import them, never
        # the region or the client (tests/test_setup.py checks both), so
        # the pserv-region package goes without them (debian/build-venv).
        "cluster": [
            "pyasn1>=0.6",
            "pysnmp>=7.1",
            # The IPMI driver works around races in these versions' internals
            # (pserv/power/drivers/ipmi/pyghmi_backend.py, pyipmi_backend.py): pinned.
            "pyghmi>=1.6,<1.7",
            "python-ipmi>=0.6,<0.7",
        ],
        # SQLAlchemy 2.1 drives postgresql:// URLs with psycopg 3.
        "postgres": ["psycopg[binary]>=3.2"],  # 3.2: notifies(timeout=), for the regions' LISTEN
    },
    entry_points={
        "console_scripts": [
            "pserv = pserv.scripts.pserv:main",
            "pserv-region = pserv.scripts.region:main",
            "pserv-cluster = pserv.scripts.cluster:main",
        ],
    },
)
