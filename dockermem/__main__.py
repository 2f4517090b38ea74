from dockermem.cli.startup import main

main()
