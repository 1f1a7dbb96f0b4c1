"""The local emulator: the whole pipeline on 127.0.0.1, derived from template.yaml."""
