from dockermem.cli.app import main

main()
