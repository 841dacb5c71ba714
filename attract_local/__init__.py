"""The local stack: moto in server mode + a thin API gateway driven by template.yaml. Development only."""
