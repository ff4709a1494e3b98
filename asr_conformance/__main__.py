from asr_conformance.cli import main

main()
