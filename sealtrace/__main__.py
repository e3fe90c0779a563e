from sealtrace.cli import main

main()
