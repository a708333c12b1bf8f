"""A fake tax bureau ledger: takes signed payment and reversal messages, confirms treasury entries."""
