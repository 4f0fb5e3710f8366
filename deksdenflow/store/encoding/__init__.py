"""The state tree's shape and bytes: layout, codec, migrations, checks of incoming trees."""
