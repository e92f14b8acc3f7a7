"""Operations views: the deployment's health as a dashboard built on the API would show it."""
