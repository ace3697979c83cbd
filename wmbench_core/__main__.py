from wmbench_core.cli import main

main()
