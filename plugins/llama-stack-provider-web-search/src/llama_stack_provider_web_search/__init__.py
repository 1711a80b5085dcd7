"""llama-stack-provider-web-search: ``remote::tavily-search`` and ``remote::brave-search``, the web search tool."""

__version__ = "0.1.0"
