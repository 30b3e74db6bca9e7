"""What the partners app adds to the receiver's admin pages, through their extension points (receiver.admin)."""


def extend_receiver_pages():
    from receiver.admin import conversion_page, network_page

    from .admin_claims import NotReportedFilter, OutgoingPostbackInline, report_to_network
    from .admin_logs import trace_panel

    network_page.add(inlines=[OutgoingPostbackInline])
    conversion_page.add(list_filters=[NotReportedFilter], actions=[report_to_network], panels=[trace_panel])
