"""Advice: what elfdeps suggests beyond the loader's own behaviour (where a missing library does exist,
what would make it found). Reads the emulation's results; never part of the emulation itself."""
