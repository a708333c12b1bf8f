"""A fake of the agencies' data exchange platform (数据交换平台): receives booking details."""
