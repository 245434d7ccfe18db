from graphinv.cli import main

main()
